"""What medr1 builds offline, deterministically, and caches: tiny models and the sample data.

- :mod:`.cache`: the cache folder and atomic build-then-rename;
- :mod:`.tiny`: the tiny LLaVA-style VLM (``--model tiny``);
- :mod:`.tiny_qwen`: tiny Qwen2-VL / Qwen2.5-VL (``--model tiny-qwen2-vl``);
- :mod:`.sample_data`: ``--data sample``.
"""
