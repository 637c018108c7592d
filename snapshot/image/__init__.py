"""The contract build and run share: what an image is and when an entry of it is served.

``kinds`` (entry and miss kinds), ``identity`` (what an entry is), ``validity``
(when it holds here), ``fingerprint`` (keys of code, values and types that are the
same in every process), ``manifest`` and ``payload`` (the formats), ``freshness``
(source files), ``compat`` (the one verdict: can this process run the image's
code) and ``host`` (this machine's facts). ``create/``, ``runtime/`` and
``inspect/`` import it; it imports none of them.
"""
