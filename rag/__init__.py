"""The assistant: conversational hybrid retrieval and grounded, cited answers."""
