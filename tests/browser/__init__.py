"""Browser tests (headless Chromium against a real product stack). A package so that the stack
fixture's "package" scope ends with this folder: the stack stops before the other tests run."""
