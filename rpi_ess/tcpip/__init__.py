"""tcpip."""
