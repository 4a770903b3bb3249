"""Where results live: result keys, the result store and saved networks.

- ``keys``: ``config_key`` (sha256 of kind, code version and non-default fields) and the
  canonical JSON of a config;
- ``store``: ``ResultStore`` (one checksummed JSON file per run, written atomically, corrupt
  files detected and moved aside) and ``load_results``; ``codec`` encodes frames,
  ``provenance`` records where a result was made;
- ``models``: saved networks, one folder per config key (safetensors + JSON, digests checked).
"""
