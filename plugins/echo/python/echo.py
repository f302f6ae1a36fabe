#!/usr/bin/env python3
"""The echo backend in Python: text comes back prefixed "echo: ", data and file parts unchanged,
and an automatic reply (context.inReplyTo) gets no reply, so two echoes never ping-pong.
It imports the molecule-plugin package: pip install plugins/sdk/python (see plugins/README.md)."""
import molecule_plugin as mp


class Echo(mp.Backend):
    name, version = "molecule-echo-python", "0.1.0"
    description = 'Replies with whatever it is sent, text prefixed "echo: ".'
    max_concurrency = 16
    max_workspaces = 1024  # it keeps nothing per workspace: one process serves a fleet (SPEC §17)
    agent_card = {"description": description, "skills": [{
        "id": "echo", "name": "Echo", "tags": ["echo", "test"], "examples": ["hello"],
        "description": 'Repeats text back prefixed "echo: "; returns data and file parts unchanged.'}]}

    def handle_a2a(self, params: mp.JsonObject, ctx: mp.RequestContext) -> mp.JsonObject:
        if params["context"].get("inReplyTo") is not None:
            return mp.no_reply()
        return mp.reply(*[dict(p, text="echo: " + p["text"]) if p.get("kind") == "text" else p
                          for p in params["message"]["parts"]])


if __name__ == "__main__":
    mp.run(Echo())
