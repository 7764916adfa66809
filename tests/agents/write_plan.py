#!/usr/bin/env python3
"""A plan agent: writes a plan for the package it is given.  usage: write_plan.py PLAN NAME CATEGORY DEPS"""
import sys
from pathlib import Path

plan, name, category, deps = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
plan.parent.mkdir(parents=True, exist_ok=True)
plan.write_text(f"# Plan: {name}\n\nCategory: {category}\n\nDepends on: {deps or 'nothing'}\n")
