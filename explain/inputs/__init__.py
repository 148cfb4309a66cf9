"""What a page is given to explain: images a user hands in (decoded safely, within a memory budget), the bundled
sample photos and generated shapes, and sets of images to scan for top activations."""
