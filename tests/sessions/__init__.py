"""What the nox sessions do, step by step; noxfile.py names the sessions and
what each one proves, these modules hold the machinery."""
