"""The built-in sample: a synthetic part world, its trained models, and their build script."""
