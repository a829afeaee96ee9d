#!/usr/bin/env python3
"""Keeps, of kubernetes-validate's _definitions.json, the definitions a schema reaches.

usage: prune-k8s-definitions.py SCHEMA.json _definitions.json > pruned.json

The pruned file validates exactly as the whole one does for that schema: a definition no
$ref path reaches from it takes no part in validating it.
"""
import json
import sys

root = json.load(open(sys.argv[1]))
defs = json.load(open(sys.argv[2]))["$defs"]
# The schema names a definition as /api/_definitions.json#/$defs/NAME; the definitions
# name each other as #/$defs/NAME.
PREFIXES = ("/api/_definitions.json#/$defs/", "#/$defs/")


def refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str) and v.startswith(PREFIXES):
                yield v.split("/$defs/", 1)[1]
            else:
                yield from refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v)


keep, todo = set(), list(refs(root))
while todo:
    name = todo.pop()
    if name not in keep:
        keep.add(name)
        todo.extend(refs(defs[name]))
json.dump({"$defs": {k: defs[k] for k in sorted(keep)}}, sys.stdout, indent=2, sort_keys=True)
print()
