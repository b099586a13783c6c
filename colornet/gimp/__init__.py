"""The GIMP 3 front end: the plug-in file (``colornet-gimp.py``, package data that runs inside GIMP) and
``colornet gimp install|uninstall``, which put it into a GIMP profile and record which ``colornet`` it runs."""

from .install import PLUGIN_NAME, default_profile, install, plugin_source, uninstall

__all__ = ["PLUGIN_NAME", "default_profile", "install", "plugin_source", "uninstall"]
