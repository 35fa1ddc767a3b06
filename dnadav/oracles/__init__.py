"""dnadav.oracles"""
