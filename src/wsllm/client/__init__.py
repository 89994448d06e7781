"""The client side of a stream, shared by eval and bench: the WebSocket transport, what a frame
is, folding frames into a response, and one recorder of a stream's figures."""
