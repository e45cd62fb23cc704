# lowram: `lowram record` puts this directory first on PYTHONPATH so that
# every Python process of the run records its Python frames beside the
# native stacks (lowram/__init__.py). Then the sitecustomize this one hid
# (Debian ships one) runs as it would have.
import os as _os
import sys as _sys


def _lowram_start():
    try:
        import lowram
        lowram._start()
    except Exception as e:  # never stop the program
        _sys.stderr.write("lowram: no Python frames: %s\n" % e)


def _lowram_chain():
    import importlib.machinery
    import importlib.util
    here = _os.path.dirname(_os.path.abspath(__file__))
    path = [p for p in _sys.path if _os.path.abspath(p or ".") != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
    if spec is None or spec.loader is None:
        return
    mod = importlib.util.module_from_spec(spec)
    _sys.modules["sitecustomize"] = mod
    spec.loader.exec_module(mod)


_lowram_start()
_lowram_chain()
