"""medr1's first-party plugins, installed as ``medr1_plugins``.

Each sub-package is a plugin found through the ``medr1`` entry-point group,
exactly as a third-party plugin is: the core imports none of them by name.
"""
