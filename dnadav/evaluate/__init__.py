"""dnadav.evaluate"""
