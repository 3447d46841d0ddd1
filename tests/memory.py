"""Peak memory of a child process, measured from inside it.

`getrusage(RUSAGE_SELF).ru_maxrss` is wrong for this: on Linux a forked child starts with
its parent's peak, so a child of a big test process (the whole suite, with Qt loaded)
reports the parent's size. `RESET` clears the peak when the child starts (clear_refs 5);
`PEAK_KB` reads the peak since then.
"""

RESET = "open('/proc/self/clear_refs', 'w').write('5')"
PEAK_KB = "int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM:')).split()[1])"
