"""Evaluation awareness: does behaviour change when a model is told it is watched?"""
