"""Training the learned part of triage from labelled cases."""
