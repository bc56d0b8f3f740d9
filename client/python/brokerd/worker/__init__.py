"""The brokerd worker: ``python3 -m brokerd worker -A MODULE``. See docs/python.md."""
