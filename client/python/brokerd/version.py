"""The package version; follows the project's (CMakeLists.txt ``project(... VERSION)``)."""
__version__ = "0.1.0"
