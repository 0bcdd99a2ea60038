"""Speed and memory figures for pusher_nb: ``python -m benchmarks [--quick] [--only SECTIONS]``."""
