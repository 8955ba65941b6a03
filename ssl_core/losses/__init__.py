"""Losses of the SSL methods that no well-kept library provides exactly as the official code
(one loss per module), and the teacher centering they share."""
