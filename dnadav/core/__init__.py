"""dnadav.align"""
