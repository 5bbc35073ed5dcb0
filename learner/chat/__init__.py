"""Chat: the llama.cpp engine, which GGUF is served, and one conversational turn."""
