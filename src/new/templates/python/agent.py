#!/usr/bin/env python3
"""{{name}}: a Molecule backend. `molecule` starts this program and sends it, on stdin, every
message the workspace receives; what handle_a2a returns is posted as the reply. The SDK
(molecule_plugin) speaks the protocol; README.md says how to install, check and run it."""
import molecule_plugin as mp


class Agent(mp.Backend):
    name, version = "{{name}}", "0.1.0"
    description = 'Replies with the text it is sent, prefixed "echo: ".'
    # Each message is handled in a thread of its own; raise this to take several at once.
    max_concurrency = 1

    def handle_a2a(self, params: mp.JsonObject, ctx: mp.RequestContext) -> mp.JsonObject:
        # Another agent's automatic reply gets no answer: two agents never answer each other
        # forever.
        if params["context"].get("inReplyTo") is not None:
            return mp.no_reply()
        text = mp.message_text(params)

        # TODO: your agent's logic goes here. Call a model or a tool, ask another workspace
        # (ctx.list_peers(), ctx.send_to_peer(...)), or fail with a reason the sender sees
        # (raise mp.BackendError). print() goes to molecule's log: stdout is kept for the protocol.
        return mp.reply("echo: " + text)


def main() -> None:
    mp.run(Agent())


if __name__ == "__main__":
    main()
