"""Test helper: a backend whose behaviour the message text selects (see handle_a2a)."""
import os
import sys
import threading

import molecule_plugin as mp

BARRIER = threading.Barrier(int(os.environ.get("SCRIPTED_BARRIER", "4")), timeout=10)


class Scripted(mp.Backend):
    name, version = "scripted", "1.2.3"
    max_concurrency, progress = 8, True
    cancel_grace = float(os.environ.get("SCRIPTED_CANCEL_GRACE", "0"))

    def handle_a2a(self, params, ctx):
        word, _, rest = mp.message_text(params).partition(" ")
        if word == "echo":
            return rest
        if word == "wait-cancel":  # stops when cancelled, answering by itself
            sys.stderr.write("waiting\n")
            sys.stderr.flush()
            ctx.cancelled.wait()
            ctx.check_cancelled()
        if word == "ignore-cancel":
            sys.stderr.write("ignoring\n")
            sys.stderr.flush()
            threading.Event().wait(30)
            return "too late"
        if word == "wind-down":
            ctx.cancelled.wait()
            return "partial answer"
        if word == "barrier":
            BARRIER.wait()
            return "all arrived"
        if word == "progress":
            for i in range(int(rest)):
                ctx.progress("step %d" % i)
            return "done"
        if word == "call":
            try:
                return mp.reply(mp.data_part({"result": ctx.call_host(rest, {"q": 1}, timeout=10)}))
            except mp.HostCallError as e:
                return "error: %s" % e
        if word == "print":
            print("stray print from the handler")
            os.system("echo child-stdout; cat; echo cat-exit:$?")
            return "printed"
        if word == "busy":
            raise mp.BackendError.busy("queue full", retry_after_ms=250, user_message="Busy.")
        if word == "crash":
            raise RuntimeError("scripted failure")
        if word == "none":
            return None
        return mp.no_reply()


if __name__ == "__main__":
    mp.run(Scripted())
