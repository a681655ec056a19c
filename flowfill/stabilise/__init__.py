"""Full-frame stabilisation: the camera path from frame-to-frame motion, smoothed within a bound,
each frame warped onto it, and the uncovered borders filled by flowfill (or cropped away)."""
