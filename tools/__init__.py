"""Developer tools: code generation and the loopback network simulator."""
