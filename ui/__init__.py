"""The Gradio chat UI: a thin layer over rag.assistant.Assistant."""
