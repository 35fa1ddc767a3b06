"""Shipped datasets (see the card.md in each subfolder); located by dnadav.assets."""
