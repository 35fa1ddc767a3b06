"""dnadav.diffusion"""
