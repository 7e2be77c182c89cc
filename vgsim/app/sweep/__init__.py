"""The trainability map: a sweep's figure over two axes, in the window and headless."""
