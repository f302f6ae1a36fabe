#!/usr/bin/env python3
"""The delegate backend in Python: on a message it lists its peers, sends the text to the first
one (or to the peer named as "@<peer id> text"), waits for the answer, and replies
"<peer name> says: <answer>". A queued message, a wait that timed out and any other failure
become a reply that says so; an automatic reply (context.inReplyTo) is not delegated again.
MOLECULE_DELEGATE_WAIT_MS sets the wait (30 s by default). It imports the molecule-plugin
package: pip install plugins/sdk/python (see plugins/README.md)."""
import os
from typing import Optional, Tuple

import molecule_plugin as mp


def split_target(text: str) -> Tuple[Optional[str], str]:
    """"@id rest" -> ("id", "rest"); anything else -> (None, text)."""
    text = text.strip()
    if not text.startswith("@"):
        return None, text
    target, _, rest = text[1:].partition(" ")
    return target, rest.strip()


class Delegate(mp.Backend):
    name, version = "molecule-delegate-python", "0.1.0"
    description = "Passes each message on to one of its peers and relays the answer."
    max_concurrency = 4

    def __init__(self) -> None:
        self.wait = int(os.environ.get("MOLECULE_DELEGATE_WAIT_MS", "30000")) / 1000.0

    def handle_a2a(self, params: mp.JsonObject, ctx: mp.RequestContext) -> mp.JsonObject:
        if params["context"].get("inReplyTo") is not None:
            return mp.no_reply()
        return mp.reply(self.delegate(mp.message_text(params), ctx))

    def delegate(self, text: str, ctx: mp.RequestContext) -> str:
        named, text = split_target(text)
        if not text:
            return 'Send me a task (optionally as "@<peer id> task") and I will pass it on.'
        try:
            peers = ctx.list_peers()
        except mp.PeerError as e:
            return "I could not list my peers: %s" % e
        if named is None:
            peer = peers[0] if peers else None
        else:
            peer = next((p for p in peers if p["id"].lower() == named.lower()), None)
        if peer is None:
            return "%s is not one of my peers." % named if named else "I have no peers to delegate to."
        name = peer.get("name") or peer["id"]
        try:
            result = ctx.send_to_peer(peer["id"], text=text, wait=self.wait)
        except mp.PeerError as e:
            if e.cls == "wait_timeout":
                return ("%s did not answer in time; the message was delivered and the answer may "
                        "still come later." % name)
            return "I could not reach %s: %s" % (name, e)
        if result.get("queued"):
            return "%s has queued the message and will answer later (message %s)." % (
                name, result.get("messageId"))
        answer = mp.parts_text(result.get("parts"))
        return "%s says: %s" % (name, answer) if answer else "%s answered without any text." % name


if __name__ == "__main__":
    mp.run(Delegate())
