"""Evaluation kit: ProPainter-style metrics, synthetic damage masks, procedural scenes with
known truth, evaluation clips, and the quality/speed benchmark (``benchmark.main``).

Modules: ``metrics`` (PSNR, hole-PSNR, SSIM, flicker), ``masks`` (blob, logo, scratches),
``scenes`` (the sample street scene), ``clips`` (loading clips), ``hard`` (the hard clips: a
fast blurred pan, a close object crossing the hole, a shot cut), ``memory`` (peak RSS),
``defects`` (film dust, scratches, grain and a fast ball, with their footprints), ``archival``
(``--archival``: the defect detector and the fill of what it finds), ``benchmark`` (the runner
behind ``flowfill evaluate`` and ``benchmarks/quality.py``).
"""
