"""Every claim the book makes about Python's multiprocessing, checked by running Python.

    python3 python/book_claims.py http://127.0.0.1:8000

The argument is the demo site's address (`cargo run -p demo-site` serves it there).
Each check names the book page that makes the claim, runs the claim, and fails with an
AssertionError if Python does not behave as the book says. `cargo test -p python-originals`
runs this file against a demo site of its own, so the book's sentences about Python stay
true on the Python that CI has (3.11 when this was written).

A check that waits for a hang gives up after a few seconds: the hang is the behaviour
being checked, and the time limit is never what is measured.
"""
import io
import multiprocessing as mp
import multiprocessing.pool
import os
import pathlib
import queue
import signal
import stat
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
CHECKS = []


def claim(page):
    """Registers a check; `page` is the book page whose sentence it checks."""
    def register(check):
        CHECKS.append((page, check))
        return check
    return register


def python_env(**changes):
    """This process's environment with `changes`; a value of None removes the variable."""
    env = dict(os.environ)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run_original(script, *args, timeout=30):
    """Runs a program of python/ with stdout and stderr in one stream, each line written
    as it is printed (PYTHONUNBUFFERED): the order a terminal shows."""
    return subprocess.run(
        [sys.executable, str(HERE / script), *args], env=python_env(PYTHONUNBUFFERED='1'),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)


def hangs(script, *args, seconds=5):
    """Whether the program is still running after `seconds` (it is then killed)."""
    process = subprocess.Popen([sys.executable, str(HERE / script), *args],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        process.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the parent and the child it waits for
        process.wait()
        return True


def python_output(code, **run_args):
    """What `python3 -c code` prints on stdout, run from python/ (so that it can import
    this file); it must exit with 0 within 10 seconds."""
    return subprocess.run([sys.executable, '-c', code], cwd=HERE, stdout=subprocess.PIPE,
                          text=True, timeout=10, check=True, **run_args).stdout


# Chapter 1 ----------------------------------------------------------------------------

@claim('ch01-process.md')
@claim('ch06-start-methods.md')
def fork_is_the_default_start_method_on_linux_before_3_14(site):
    if sys.version_info < (3, 14):
        assert mp.get_start_method() == 'fork', mp.get_start_method()
    else:
        assert mp.get_start_method() == 'forkserver', mp.get_start_method()


@claim('ch01-process.md')
def a_failed_load_is_a_traceback_in_the_child_and_the_parent_exits_0(site):
    run = run_original('url_loader.py', 'http://127.0.0.1:1/')
    assert 'Traceback' in run.stdout and 'Connection refused' in run.stdout, run.stdout
    assert run.stdout.rstrip().endswith('Exiting…'), run.stdout
    assert run.returncode == 0, run.returncode


@claim('ch01-process.md')
def a_latin1_page_is_a_unicode_decode_error(site):
    run = run_original('url_loader.py', site + '/legacy/latin1.html')
    assert 'UnicodeDecodeError' in run.stdout, run.stdout


def print_partial_line_then_fork(use_multiprocessing):
    """Prints half a line to a pipe, then forks: how often does it come out?"""
    print('half a line, ', end='')  # stdout is a pipe: this stays in the buffer
    if use_multiprocessing:
        child = mp.get_context('fork').Process(target=print, args=('child',))
        child.start()
        child.join()
    else:
        pid = os.fork()
        if pid == 0:
            print('child')
            sys.stdout.flush()
            os._exit(0)
        os.waitpid(pid, 0)
    print('parent')


@claim('fork-pitfalls.md')
@claim('ch01-process.md')
def a_fork_without_a_flush_prints_buffered_text_twice_and_multiprocessing_flushes(site):
    for use_multiprocessing, copies in [(False, 2), (True, 1)]:
        out = python_output(
            f'import book_claims; book_claims.print_partial_line_then_fork({use_multiprocessing})',
            env=python_env(PYTHONUNBUFFERED=None))
        assert out.count('half a line') == copies, (use_multiprocessing, out)


@claim('ch01-process.md')
def children_not_joined_are_joined_when_the_parent_exits(site):
    code = ('import multiprocessing as mp, time\n'
            'def late(): time.sleep(0.3); print("the child finished", flush=True)\n'
            'if __name__ == "__main__":\n'
            '    mp.Process(target=late).start()\n'
            '    print("the parent is done", flush=True)\n')
    out = python_output(code)
    assert out.splitlines() == ['the parent is done', 'the child finished'], out


def sleep_forever():
    time.sleep(60)


@claim('ch01-process.md')
def each_kind_of_failed_load_is_the_exception_the_book_names(site):
    import urllib.error
    import urllib.request
    cases = [
        ('[' + site + '/', urllib.error.URLError, 'unknown url type'),
        ('http://127.0.0.1:1/', urllib.error.URLError, 'Connection refused'),
        (site + '/slow?ms=2000', TimeoutError, 'timed out'),
        (site + '/contributors.html', urllib.error.HTTPError, 'HTTP Error 404'),
    ]
    for url, kind, words in cases:
        try:
            urllib.request.urlopen(url, timeout=0.5).read()
        except Exception as e:  # the check is about which exception it is
            assert type(e) is kind, (url, e)
            assert words in str(e), (url, e)
        else:
            raise AssertionError(f'{url} loaded')


@claim('exercises/ch01.md')
def join_with_a_timeout_then_terminate_gives_exitcode_minus_15(site):
    process = mp.Process(target=sleep_forever)
    process.start()
    process.join(0.2)
    assert process.exitcode is None
    process.terminate()
    process.join()
    assert process.exitcode == -signal.SIGTERM, process.exitcode


# Chapter 2 ----------------------------------------------------------------------------

@claim('ch02-pool.md')
def map_prints_the_good_pages_then_raises_the_first_error(site):
    slow, good = site + '/slow?ms=300', site + '/about.html'
    run = run_original('url_loader_pool.py', slow, good, '[' + site + '/', '[' + site + '/x')
    out = run.stdout
    # The workers print the good pages themselves: before the parent's traceback.
    assert 'It took 300 ms' in out and '<title>About' in out, out
    assert out.index('It took 300 ms') < out.index('Traceback'), out
    assert out.index('<title>About') < out.index('Traceback'), out
    # The parent gets no results: map raises the first error, after every item is done.
    assert out.rstrip().endswith('<urlopen error unknown url type: [http>'), out
    assert run.returncode == 1, run.returncode


@claim('ch02-pool.md')
def map_cuts_len_over_4_workers_chunks(site):
    seen = []
    original = mp.pool.Pool._get_tasks

    def spy(func, iterable, size):
        seen.append(size)
        return original(func, iterable, size)
    mp.pool.Pool._get_tasks = staticmethod(spy)
    try:
        with mp.Pool(4) as pool:
            pool.map(abs, range(4))
            pool.map(abs, range(100))
    finally:
        mp.pool.Pool._get_tasks = staticmethod(original)
    assert seen == [1, 7], seen  # ceil(4 / 16), ceil(100 / 16)


def open_file(path):
    return open(path)


@claim('ch02-pool.md')
def a_result_that_cannot_be_pickled_is_an_error_at_run_time(site):
    with mp.Pool(1) as pool:
        try:
            pool.map(open_file, [__file__])
        except mp.pool.MaybeEncodingError as e:
            assert 'cannot pickle' in str(e), e
        else:
            raise AssertionError('map returned an open file')


def die(_):
    os.kill(os.getpid(), signal.SIGKILL)


@claim('ch02-pool.md')
def a_worker_killed_during_map_makes_map_wait_forever(site):
    with mp.Pool(2) as pool:
        result = pool.map_async(die, [1])
        try:
            result.get(timeout=3)
        except mp.TimeoutError:
            pass  # still waiting: the pool replaced the worker but lost its task
        else:
            raise AssertionError('map returned after its worker was killed')


# Chapter 3 ----------------------------------------------------------------------------

@claim('ch03-pipe.md')
def the_pipe_original_hangs_when_the_child_dies_before_sending(site):
    assert hangs('url_load_pipe.py', '[' + site + '/')


@claim('exercises/ch03.md')
def recv_raises_eoferror_once_every_copy_of_the_other_end_is_closed(site):
    reader, writer = mp.Pipe(duplex=False)
    writer.send('last')
    writer.close()
    assert reader.recv() == 'last'
    try:
        reader.recv()
    except EOFError:
        pass
    else:
        raise AssertionError('recv returned after the end of the stream')


@claim('ch03-pipe.md')
def a_duplex_pipe_is_a_socketpair_and_a_one_way_pipe_an_os_pipe(site):
    duplex, _ = mp.Pipe()
    reader, writer = mp.Pipe(duplex=False)  # the receiving end first, then the sending one
    assert reader.readable and not reader.writable and writer.writable and not writer.readable
    assert stat.S_ISSOCK(os.fstat(duplex.fileno()).st_mode), 'Pipe() is not a socket'
    assert stat.S_ISFIFO(os.fstat(reader.fileno()).st_mode), 'Pipe(duplex=False) is not a pipe'


@claim('ch03-pipe.md')
def a_message_refused_as_too_long_leaves_the_connection_unreadable(site):
    a, b = mp.Pipe()
    a.send_bytes(b'x' * 100)
    a.send_bytes(b'the next message')
    try:
        b.recv_bytes(maxlength=10)
    except OSError:
        pass
    else:
        raise AssertionError('a 100-byte message was received with maxlength=10')
    try:
        b.recv_bytes()  # the next message is there, whole, but this end can no longer read
    except OSError:
        pass
    else:
        raise AssertionError('the connection was still readable after a refused message')


# Chapter 4 ----------------------------------------------------------------------------

def put_a_megabyte(q):
    q.put(b'x' * (1 << 20))


@claim('ch04-queue.md')
def put_returns_at_once_and_the_feeder_thread_keeps_the_process_from_exiting(site):
    q = mp.Queue()
    # put() in this process: a megabyte is 16 times what the pipe holds, and nobody reads;
    # it still returns, because the feeder thread writes it later.
    q.put(b'y' * (1 << 20))
    child = mp.Process(target=put_a_megabyte, args=(q,))
    child.start()
    child.join(1)
    assert child.exitcode is None, 'the child exited with its message still unread'
    assert len(q.get(timeout=10)) == 1 << 20
    assert len(q.get(timeout=10)) == 1 << 20
    child.join(10)
    assert child.exitcode == 0, child.exitcode


def put_then_close(q):
    q.put('the only task')
    q.close()


@claim('ch04-queue.md')
def close_tells_no_consumer_and_get_with_a_timeout_raises_queue_empty(site):
    q = mp.Queue()
    producer = mp.Process(target=put_then_close, args=(q,))
    producer.start()
    producer.join()
    assert q.get(timeout=10) == 'the only task'
    try:
        q.get(timeout=0.2)  # the producer closed its queue and is gone: no sign of it here
    except queue.Empty:
        pass
    else:
        raise AssertionError('get returned from an empty queue')


def put_later(q):
    time.sleep(0.3)
    q.put('put after the parent closed')


@claim('ch04-queue.md')
def close_stops_only_this_process_from_putting(site):
    q = mp.get_context('fork').Queue()
    producer = mp.get_context('fork').Process(target=put_later, args=(q,))
    producer.start()
    q.close()
    try:
        q.put('refused')
        raise AssertionError('put after close went through')
    except ValueError:
        pass
    producer.join()
    assert producer.exitcode == 0, producer.exitcode


@claim('ch04-queue.md')
def a_queue_is_a_pipe_with_a_lock_for_its_readers_and_one_for_its_writers(site):
    q = mp.Queue()
    assert stat.S_ISFIFO(os.fstat(q._reader.fileno()).st_mode), 'the queue is not a pipe'
    for lock in (q._rlock, q._wlock):
        assert type(lock) is type(mp.Lock()), type(lock)


def wait_for_a_task(q):
    q.get()  # the queue is empty: it waits in get, holding the readers' lock


@claim('ch04-queue.md')
def a_consumer_killed_while_it_waits_in_get_wedges_the_queue_for_the_others(site):
    q = mp.Queue()
    consumer = mp.Process(target=wait_for_a_task, args=(q,))
    consumer.start()
    deadline = time.monotonic() + 10
    while q._rlock.acquire(block=False):  # still free: the consumer has not reached get
        q._rlock.release()
        assert time.monotonic() < deadline, "the consumer never took the readers' lock"
        time.sleep(0.01)
    os.kill(consumer.pid, signal.SIGKILL)
    consumer.join()
    q.put('a task')
    assert q._reader.poll(5), 'the task never reached the pipe'
    try:
        q.get(timeout=3)
    except queue.Empty:
        pass  # the task is in the pipe, and the dead consumer holds the lock for good
    else:
        raise AssertionError('get took the task: the dead consumer\'s lock was released')


@claim('ch04-queue.md')
def a_multiprocessing_lock_is_a_semaphore(site):
    lock = mp.Lock()
    assert type(lock._semlock).__name__ == 'SemLock', type(lock._semlock)


@claim('ch04-queue.md')
def queue_shutdown_exists_from_python_3_13(site):
    assert hasattr(queue.Queue, 'shutdown') == (sys.version_info >= (3, 13))


@claim('ch04-queue.md')
def the_queue_original_loads_every_url(site):
    urls = [site + '/', site + '/about.html', site + '/legacy/latin1.html']
    run = run_original('url_loader_queue.py', *urls)
    assert run.stdout.startswith('Starting 1 producer and 3 loader processes\n'), run.stdout
    assert f'{site}/about.html (' in run.stdout, run.stdout
    assert "error: " + site + "/legacy/latin1.html: 'utf-8' codec" in run.stdout, run.stdout
    assert run.stdout.rstrip().endswith('Exiting…'), run.stdout


# Chapter 5 ----------------------------------------------------------------------------

@claim('ch05-crawler.md')
def the_crawler_original_trips_where_the_book_says(site):
    run = run_original('crawler.py', site + '/')
    lines = run.stdout.splitlines()
    assert f'  0 {site}/ (' in lines[0], lines
    # Its regular expression finds a link inside a script's template string...
    assert f'  2 error: {site}/manual/${{page}}.html: HTTP Error 404: Not Found' in lines, lines
    # ...joins /manual's links to /manual, not to /manual/ where the redirect led...
    assert f'  2 error: {site}/options.html: HTTP Error 404: Not Found' in lines, lines
    # ...ignores the changelog's <base href="/news/">...
    assert f'  3 error: {site}/tidemark-1-1.html: HTTP Error 404: Not Found' in lines, lines
    # ...and loads a stylesheet and an image as pages.
    assert any(line.startswith(f'  2 {site}/static/style.css (') for line in lines), lines
    assert any(line.startswith(f'  2 {site}/static/tidemark.svg (') for line in lines), lines


# Chapter 6 ----------------------------------------------------------------------------

@claim('ch06-start-methods.md')
def from_a_program_with_threads_python_forks_and_3_12_warns_only_when_asked(site):
    code = ('import multiprocessing as mp, threading\n'
            'if __name__ == "__main__":\n'
            '    stop = threading.Event()\n'
            '    ticker = threading.Thread(target=stop.wait)\n'
            '    ticker.start()\n'
            '    child = mp.get_context("fork").Process(target=print, args=("child",))\n'
            '    child.start(); child.join(); stop.set(); ticker.join()\n'
            '    print("exitcode", child.exitcode)\n')
    warning = 'is multi-threaded, use of fork() may lead to deadlocks in the child'
    for asked in [False, True]:
        flags = ['-W', 'always::DeprecationWarning'] if asked else []
        run = subprocess.run([sys.executable, *flags, '-c', code],
                             capture_output=True, text=True, timeout=10)
        assert run.stdout == 'child\nexitcode 0\n', run
        warned = warning in run.stderr
        assert warned == (asked and sys.version_info >= (3, 12)), (asked, run.stderr)


def send_on(conn):
    conn.send('from a task')


@claim('ipc/src/lib.rs')
def a_pool_task_refuses_a_queue_and_takes_a_pipe_end(site):
    ctx = mp.get_context('fork')
    ours, theirs = ctx.Pipe()
    with ctx.Pool(1) as pool:
        pool.apply(send_on, (theirs,))
        assert ours.recv() == 'from a task'
        try:
            pool.apply(print, (ctx.Queue(),))
            raise AssertionError('a queue went in a task')
        except RuntimeError as e:
            assert 'through inheritance' in str(e), e


def command_line(pid):
    with open(f'/proc/{pid}/cmdline', 'rb') as f:
        return f.read().replace(b'\0', b' ').decode()


def who_started_me(_):
    """In a child: its parent's pid and command line, its own command line, and the name
    under which it imported the program's main module."""
    return (os.getppid(), command_line(os.getppid()), command_line(os.getpid()),
            sys.modules['__main__'].__name__)


@claim('ch06-start-methods.md')
def the_forkserver_is_a_fresh_python_that_imports_main_and_forks_the_children(site):
    with mp.get_context('forkserver').Pool(1) as pool:
        parent, parent_command, _, _ = pool.apply(who_started_me, (None,))
    assert parent != os.getpid(), 'a forkserver child is not a child of the program'
    assert "-c from multiprocessing.forkserver import main; main(" in parent_command, \
        parent_command
    assert "['__main__']" in parent_command, parent_command  # what it imports first


@claim('ch06-start-methods.md')
def a_spawned_child_is_a_fresh_python_started_by_the_program(site):
    with mp.get_context('spawn').Pool(1) as pool:
        parent, _, own_command, main_name = pool.apply(who_started_me, (None,))
    assert parent == os.getpid(), 'a spawned child is a child of the program'
    assert main_name == '__mp_main__', main_name  # so `if __name__ == '__main__':` is false
    assert '-c from multiprocessing.spawn import spawn_main; spawn_main(' in own_command, \
        own_command
    assert own_command.rstrip().endswith('--multiprocessing-fork'), own_command


def nap(seconds):
    time.sleep(seconds)


@claim('ch06-start-methods.md')
def pool_returns_without_waiting_for_its_initializers(site):
    started = time.monotonic()
    pool = mp.get_context('fork').Pool(2, initializer=nap, initargs=(3600,))
    took = time.monotonic() - started
    try:
        pool.apply_async(nap, (0,)).get(timeout=0.2)
        raise AssertionError('a task ran while the initializers slept')
    except mp.TimeoutError:
        pass
    finally:
        pool.terminate()
    assert took < 1, took


@claim('ipc-tour.md')
def an_initializer_that_raises_is_retried_in_new_workers_for_ever(site):
    code = ('import multiprocessing as mp\n'
            'def fail(runs):\n'
            '    with runs.get_lock(): runs.value += 1\n'
            '    raise RuntimeError("no database")\n'
            'if __name__ == "__main__":\n'
            '    runs = mp.Value("i", 0)\n'
            '    pool = mp.get_context("fork").Pool(1, initializer=fail, initargs=(runs,))\n'
            '    try:\n'
            '        pool.apply_async(abs, (-1,)).get(timeout=1)\n'
            '    except mp.TimeoutError:\n'
            '        print("timeout", runs.value)\n'
            '    pool.terminate()\n')
    word, runs = python_output(code, stderr=subprocess.DEVNULL).split()
    assert word == 'timeout' and int(runs) >= 3, (word, runs)


@claim('ch06-start-methods.md')
def a_lambda_in_a_function_cannot_be_pickled_for_forkserver_or_spawn_and_fork_takes_it(site):
    for method in ['forkserver', 'spawn']:
        child = mp.get_context(method).Process(target=lambda: None)
        try:
            child.start()
        except (mp.reduction.pickle.PicklingError, AttributeError) as e:
            assert "Can't pickle local object" in str(e), e  # in start, in the parent
        else:
            child.join()
            raise AssertionError(f'{method} started a lambda')
    child = mp.get_context('fork').Process(target=lambda: None)
    child.start()
    child.join()
    assert child.exitcode == 0, child.exitcode


def run_script(code):
    """Runs `code` as a program file of its own (spawn imports the main module from its
    file), with stderr in stdout."""
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        script = pathlib.Path(folder) / 'program.py'
        script.write_text(code)
        return subprocess.run([sys.executable, str(script)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=30)


@claim('ch06-start-methods.md')
def a_lambda_at_the_top_of_the_module_cannot_be_pickled_either(site):
    code = ('import multiprocessing as mp\n'
            'f = lambda: None\n'
            'if __name__ == "__main__":\n'
            '    for method in ("forkserver", "spawn"):\n'
            '        try:\n'
            '            mp.get_context(method).Process(target=f).start()\n'
            '        except Exception as e:\n'
            '            print(f"{method} {type(e).__name__}: {e}", flush=True)\n')
    run = run_script(code)
    for method in ('forkserver', 'spawn'):
        assert f'{method} PicklingError: Can\'t pickle <function <lambda> at 0x' in run.stdout, \
            run.stdout
    assert run.stdout.count('attribute lookup <lambda> on __main__ failed') == 2, run.stdout


@claim('ch06-start-methods.md')
def without_the_main_guard_a_spawned_child_fails_and_the_parent_sees_exit_code_1(site):
    code = ('import multiprocessing as mp\n'
            'child = mp.get_context("spawn").Process(target=print)\n'
            'child.start(); child.join()\n'
            'print("exitcode", child.exitcode, flush=True)\n')
    run = run_script(code)
    assert 'RuntimeError' in run.stdout, run.stdout
    assert 'An attempt has been made to start a new process before the\n' \
           '        current process has finished its bootstrapping phase.' in run.stdout, run.stdout
    assert run.stdout.rstrip().endswith('exitcode 1'), run.stdout  # the parent goes on
    assert run.returncode == 0, run.returncode


# The pitfalls of fork, and the tour of ipc --------------------------------------------

def print_lines_then_fork():
    """Prints whole lines to a pipe, then forks; each process flushes its buffer at exit."""
    print('first line')
    print('second line')
    pid = os.fork()
    if pid == 0:
        sys.stdout.flush()
        os._exit(0)
    os.waitpid(pid, 0)


@claim('fork-pitfalls.md')
def with_stdout_a_pipe_whole_lines_buffered_at_a_fork_come_out_twice(site):
    out = python_output('import book_claims; book_claims.print_lines_then_fork()',
                        env=python_env(PYTHONUNBUFFERED=None))
    assert out == 'first line\nsecond line\n' * 2, out


def hold_until(lock, locked, release):
    with lock:
        locked.set()
        release.wait()


def take(lock):
    with lock:
        pass


@claim('fork-pitfalls.md')
def multiprocessing_forks_while_a_thread_holds_a_lock_and_the_child_waits_forever(site):
    import threading
    lock, locked, release = threading.Lock(), threading.Event(), threading.Event()
    holder = threading.Thread(target=hold_until, args=(lock, locked, release))
    holder.start()
    locked.wait()
    child = mp.get_context('fork').Process(target=take, args=(lock,))
    child.start()  # Python forks anyway
    release.set()
    holder.join()
    child.join(3)
    try:
        assert child.exitcode is None, 'the child got a lock that was copied locked'
    finally:
        child.kill()
        child.join()


@claim('fork-pitfalls.md')
def a_forked_child_leaves_with_os_exit_so_atexit_handlers_run_in_the_parent_only(site):
    code = ('import atexit, multiprocessing as mp, os\n'
            'if __name__ == "__main__":\n'
            '    atexit.register(lambda: print("atexit ran", flush=True))\n'
            '    child = mp.get_context("fork").Process(target=print, args=("child",))\n'
            '    child.start(); child.join()\n')
    out = python_output(code)
    assert out.splitlines() == ['child', 'atexit ran'], out


@claim('fork-pitfalls.md')
def a_parent_killed_with_sigkill_leaves_its_child_running(site):
    code = ('import multiprocessing as mp, time\n'
            'if __name__ == "__main__":\n'
            '    child = mp.get_context("fork").Process(target=time.sleep, args=(30,))\n'
            '    child.start()\n'
            '    print(child.pid, flush=True)\n'
            '    child.join()\n')
    parent = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    time.sleep(0.5)  # time for a signal sent at the parent's death to arrive, if one were
    try:
        with open(f'/proc/{child}/stat') as stat:  # no such file: no such process
            state = stat.read().rsplit(') ', 1)[1][0]
        assert state != 'Z', 'the child died with its parent'
    finally:
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass


def stdin_of_the_child():
    print(os.readlink('/proc/self/fd/0'), os.readlink(f'/proc/self/fd/{sys.stdin.fileno()}'))


@claim('fork-pitfalls.md')
def the_child_sys_stdin_reads_dev_null_but_descriptor_0_is_still_the_parents(site):
    code = 'import book_claims, multiprocessing as mp\n' \
           'p = mp.get_context("fork").Process(target=book_claims.stdin_of_the_child)\n' \
           'p.start(); p.join()\n'
    with open(__file__) as stdin:
        out = python_output(code, stdin=stdin)
    assert out.split() == [__file__, '/dev/null'], out


@claim('fork-pitfalls.md')
def python_starts_with_sigpipe_ignored(site):
    # subprocess starts it with SIGPIPE back to the default (restore_signals=True).
    code = 'import signal; print(signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN)'
    out = python_output(code)
    assert out.strip() == 'True', out


@claim('fork-pitfalls.md')
def only_the_parent_can_join_a_process(site):
    child = mp.get_context('fork').Process(target=time.sleep, args=(0.5,))
    child.start()
    pid = os.fork()
    if pid == 0:
        try:
            child.join()
            os._exit(1)
        except AssertionError as e:
            os._exit(0 if str(e) == 'can only join a child process' else 2)
    _, status = os.waitpid(pid, 0)
    child.join()
    assert os.waitstatus_to_exitcode(status) == 0, status


def sleep_briefly():
    time.sleep(0.3)


@claim('ipc-tour.md')
def close_raises_value_error_while_the_child_runs(site):
    child = mp.get_context('fork').Process(target=time.sleep, args=(5,))
    child.start()
    try:
        child.close()
        raise AssertionError('close of a running process did not raise')
    except ValueError:
        pass
    finally:
        child.terminate()
        child.join()


@claim('ipc-tour.md')
def recv_bytes_into_a_buffer_too_short_raises_buffer_too_short(site):
    ours, theirs = mp.Pipe()
    theirs.send_bytes(b'0123456789')
    buf = bytearray(4)
    try:
        ours.recv_bytes_into(buf)
        raise AssertionError('a 10-byte message went into 4 bytes')
    except mp.BufferTooShort as e:
        assert e.args[0] == b'0123456789', e.args


@claim('ipc-tour.md')
def a_lock_acquired_again_by_its_holder_without_blocking_says_false(site):
    lock = mp.Lock()
    assert lock.acquire()
    assert lock.acquire(False) is False
    lock.release()


@claim('ipc-tour.md')
def releasing_a_free_lock_raises_value_error(site):
    try:
        mp.Lock().release()
        raise AssertionError('a free lock was released')
    except ValueError:
        pass


@claim('ipc-tour.md')
def notify_without_the_lock_is_an_error(site):
    try:
        mp.Condition().notify()
        refused = None
    except AssertionError as e:  # Python's own `assert`, in Condition.notify
        refused = str(e)
    assert refused is not None and 'lock is not owned' in refused, refused


@claim('ipc-tour.md')
def a_sentinel_is_ready_for_wait_once_the_process_ends_and_after_the_join(site):
    from multiprocessing.connection import wait
    p = mp.get_context('fork').Process(target=sleep_briefly)
    try:
        p.sentinel
        raise AssertionError('a sentinel before the start')
    except ValueError:
        pass  # "process not started"
    a, _b = mp.Pipe()
    p.start()
    assert wait([a, p.sentinel], 0.01) == [], 'ready before the child ended'
    assert wait([a, p.sentinel], 10) == [p.sentinel]
    p.join()
    assert wait([p.sentinel], 0) == [p.sentinel], 'not ready after the join'


@claim('ipc-tour.md')
def a_python_queue_is_a_pipe_with_two_locks(site):
    import multiprocessing.connection
    import multiprocessing.synchronize
    q = mp.get_context('fork').Queue()
    assert isinstance(q._reader, mp.connection.Connection), q._reader
    assert isinstance(q._writer, mp.connection.Connection), q._writer
    assert isinstance(q._rlock, mp.synchronize.Lock), q._rlock
    assert isinstance(q._wlock, mp.synchronize.Lock), q._wlock


def get_forever(q):
    q.get()


@claim('fork-pitfalls.md')
@claim('ipc-tour.md')
def a_consumer_killed_while_it_waits_in_get_leaves_the_queue_wedged(site):
    q = mp.get_context('fork').Queue()
    consumer = mp.get_context('fork').Process(target=get_forever, args=(q,))
    consumer.start()
    time.sleep(0.5)  # it waits in get(), holding the queue's reader lock
    consumer.kill()
    consumer.join()
    q.put('a message')
    try:
        q.get(timeout=2)
    except queue.Empty:
        pass  # the lock went with the killed consumer: the message is there, out of reach
    else:
        raise AssertionError('get took the message after a consumer was killed in get')


def oserror_of(call, **kwargs):
    """The message of the OSError that `call(**kwargs)` raises; fails if it returns."""
    try:
        call(**kwargs)
    except OSError as e:
        return str(e)
    raise AssertionError(f'{call.__name__} returned')


@claim('ipc-tour.md')
def a_message_over_maxlength_is_an_oserror_and_the_connection_is_not_readable_after(site):
    a, b = mp.Pipe()
    a.send_bytes(b'0123456789')
    a.send_bytes(b'ok')
    assert oserror_of(b.recv_bytes, maxlength=4) == 'bad message length'
    assert 'write-only' in oserror_of(b.recv_bytes)  # even for the message that fits


@claim('ipc-tour.md')
def poll_on_the_sending_end_of_a_one_way_pipe_is_an_error(site):
    _, writer = mp.Pipe(duplex=False)
    assert 'write-only' in oserror_of(writer.poll)


@claim('ipc-tour.md')
def a_two_way_pipe_is_a_socketpair_and_a_one_way_pipe_an_os_pipe(site):
    import stat
    a, _ = mp.Pipe()
    reader, _ = mp.Pipe(duplex=False)
    assert stat.S_ISSOCK(os.fstat(a.fileno()).st_mode)
    assert stat.S_ISFIFO(os.fstat(reader.fileno()).st_mode)


# Chapter 7 ----------------------------------------------------------------------------

@claim('ch07-shared-memory.md')
def the_original_loses_updates_without_a_lock_and_its_killed_holders_lock_stays_locked(site):
    run = run_original('shared_state.py', site + '/')
    line = next(l for l in run.stdout.splitlines() if 'without a lock' in l)
    counted = int(line.split(':')[1].split()[0])
    assert counted < 400_000, line
    assert 'acquire(timeout=2) returned False' in run.stdout, run.stdout


@claim('ch07-shared-memory.md')
def a_lock_acquired_again_by_its_holder_waits_for_itself(site):
    lock = mp.Lock()
    lock.acquire()
    assert not lock.acquire(timeout=0.2), 'a Lock was acquired twice'


@claim('ch07-shared-memory.md')
def the_lock_of_a_value_an_array_or_a_condition_is_an_rlock(site):
    for lock in (mp.Value('q', 0).get_lock(), mp.Array('q', 2).get_lock(),
                 mp.Condition()._lock):
        assert type(lock).__name__ == 'RLock', type(lock)


def add_through_value(value, adds):
    for _ in range(adds):
        value.value += 1


@claim('ch07-shared-memory.md')
def value_plus_equals_loses_updates_even_with_its_lock(site):
    value = mp.Value('q', 0)  # lock=True: each read and each write takes the lock
    adders = [mp.Process(target=add_through_value, args=(value, 100_000)) for _ in range(4)]
    for adder in adders:
        adder.start()
    for adder in adders:
        adder.join()
    assert value.value < 400_000, value.value


def wait_and_report(event, answers):
    answers.put(event.wait())


@claim('ch07-shared-memory.md')
def event_wait_without_a_timeout_can_return_false_after_a_set_then_a_clear(site):
    answers = []
    for _ in range(20):
        event, answer = mp.Event(), mp.Queue()
        waiter = mp.Process(target=wait_and_report, args=(event, answer))
        waiter.start()
        time.sleep(0.05)  # asleep in wait() by now
        event.set()
        event.clear()
        answers.append(answer.get(timeout=10))
        waiter.join()
        if False in answers:
            return
    raise AssertionError(f'wait() returned {answers}')


@claim('ch07-shared-memory.md')
def a_bounded_semaphore_released_too_often_raises_value_error(site):
    semaphore = mp.BoundedSemaphore(1)
    try:
        semaphore.release()
    except ValueError as e:
        assert str(e) == 'semaphore or lock released too many times', e
    else:
        raise AssertionError('no ValueError')


@claim('ch07-shared-memory.md')
def shared_memory_names_itself_refuses_size_0_and_unlinks_once(site):
    from multiprocessing import shared_memory
    shm = shared_memory.SharedMemory(create=True, size=10)
    assert shm.name.startswith('psm_'), shm.name
    shm.unlink()
    try:
        shm.unlink()
    except FileNotFoundError:
        pass
    else:
        raise AssertionError('a second unlink raised nothing')
    shm.close()
    try:
        shared_memory.SharedMemory(create=True, size=0)
    except ValueError:
        pass
    else:
        raise AssertionError('a size of 0 was accepted')


@claim('ipc-tour.md')
def shared_memory_closed_by_its_creator_can_still_be_opened_by_name(site):
    from multiprocessing import shared_memory
    shm = shared_memory.SharedMemory(create=True, size=8)
    name = shm.name
    shm.buf[0] = 7
    shm.close()
    other = shared_memory.SharedMemory(name)
    try:
        assert other.buf[0] == 7, other.buf[0]
    finally:
        other.close()
        other.unlink()


@claim('ch07-shared-memory.md')
def a_barrier_wait_that_times_out_breaks_it(site):
    import threading
    barrier = mp.Barrier(2)
    try:
        barrier.wait(timeout=0.1)
    except threading.BrokenBarrierError:
        assert barrier.broken
    else:
        raise AssertionError('the wait did not time out')


def add_under_the_lock(counter, lock):
    for _ in range(1000):
        with lock:
            counter.value += 1


@claim('ch07-shared-memory.md')
def a_value_and_a_lock_go_to_spawn_and_forkserver_processes_in_their_arguments(site):
    for method in ('spawn', 'forkserver'):
        ctx = mp.get_context(method)
        counter, lock = ctx.Value('q', 0), ctx.Lock()
        adders = [ctx.Process(target=add_under_the_lock, args=(counter, lock))
                  for _ in range(4)]
        for adder in adders:
            adder.start()
        for adder in adders:
            adder.join()
        assert counter.value == 4000, (method, counter.value)


KEPT = None


def keep(value):
    global KEPT
    KEPT = value


def add_to_kept(n):
    with KEPT.get_lock():
        KEPT.value += n


def read_value(value):
    return value.value


def first_byte(shm):
    return shm.buf[0]


@claim('ch07-shared-memory.md')
def a_value_goes_in_a_pool_initializer_a_task_refuses_it_and_shared_memory_goes_by_name(site):
    from multiprocessing import shared_memory
    ctx = mp.get_context('spawn')
    total = ctx.Value('q', 0)
    shm = shared_memory.SharedMemory(create=True, size=8)
    try:
        shm.buf[0] = 42
        with ctx.Pool(2, initializer=keep, initargs=(total,)) as pool:
            pool.map(add_to_kept, range(1, 11))
            assert total.value == 55, total.value
            try:
                pool.apply(read_value, (total,))
            except RuntimeError as e:
                assert str(e) == ('Synchronized objects should only be shared between '
                                  'processes through inheritance'), e
            else:
                raise AssertionError('a Value went in a task')
            assert pool.apply(first_byte, (shm,)) == 42
    finally:
        shm.close()
        shm.unlink()


# The tour: what Python's pool and shared memory do where ipc was made to match ----------

def echo(value):
    return value


def square(x):
    return x * x


@claim('ipc-tour.md')
def an_async_result_nobody_keeps_leaves_the_pool_cache_when_it_comes(site):
    with mp.get_context('fork').Pool(2) as pool:
        for i in range(50):
            pool.apply_async(square, (i,))  # the AsyncResult is dropped at once
        pool.apply(square, (0,))
        deadline = time.monotonic() + 10
        while pool._cache and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not pool._cache, len(pool._cache)


@claim('ipc-tour.md')
def tasks_and_results_bigger_than_a_pipe_holds_move_both_ways(site):
    big = b'x' * 300_000
    with mp.get_context('fork').Pool(1) as pool:
        results = [pool.apply_async(echo, (big,)) for _ in range(3)]
        assert all(r.get(timeout=20) == big for r in results)


@claim('ipc-tour.md')
def an_imap_called_before_close_still_runs_its_whole_iterable(site):
    pool = mp.get_context('fork').Pool(2)
    squares = pool.imap(square, range(10))
    pool.close()
    pool.join()
    assert list(squares) == [x * x for x in range(10)]


@claim('ipc-tour.md')
def a_killed_forkserver_is_replaced_by_the_next_start(site):
    ctx = mp.get_context('forkserver')
    first = ctx.Process(target=time.sleep, args=(0,))
    first.start()
    first.join()
    from multiprocessing import forkserver
    server = forkserver._forkserver._forkserver_pid
    os.kill(server, signal.SIGKILL)
    time.sleep(0.5)
    second = ctx.Process(target=time.sleep, args=(0,))
    second.start()
    second.join()
    assert second.exitcode == 0
    assert forkserver._forkserver._forkserver_pid != server


def nap_then_write(seconds, path):
    time.sleep(seconds)
    pathlib.Path(path).write_text('done')


@claim('ipc-tour.md')
def the_processes_of_a_killed_forkserver_run_on_and_join_returns_at_once_with_255(site):
    import tempfile
    from multiprocessing import forkserver
    ctx = mp.get_context('forkserver')
    with tempfile.TemporaryDirectory() as folder:
        done = pathlib.Path(folder) / 'done'
        process = ctx.Process(target=nap_then_write, args=(1.0, str(done)))
        process.start()
        os.kill(forkserver._forkserver._forkserver_pid, signal.SIGKILL)
        asked = time.monotonic()
        process.join()
        took = time.monotonic() - asked
        assert took < 0.5, f'join waited {took:.2f} s'
        assert process.exitcode == 255, process.exitcode
        assert not done.exists(), 'the process had ended before the join returned'
        deadline = time.monotonic() + 5
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert done.exists(), 'the process died with its server'


@claim('ipc-tour.md')
def the_resource_tracker_unlinks_a_name_whose_program_was_killed(site):
    code = ('from multiprocessing import shared_memory; import time; '
            'shm = shared_memory.SharedMemory(create=True, size=10); '
            'print(shm.name, flush=True); time.sleep(60)')
    program = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)  # the tracker's warning
    path = pathlib.Path('/dev/shm') / program.stdout.readline().strip().lstrip('/')
    assert path.exists(), path
    program.kill()
    program.wait()
    program.stdout.close()
    deadline = time.monotonic() + 20
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not path.exists(), f'{path} is still there'


# Performance --------------------------------------------------------------------------

@claim('performance.md')
def send_bytes_writes_header_and_body_at_once_up_to_16_kib_and_recv_bytes_reads_them_apart(site):
    a, b = mp.Pipe()
    writes, reads = [], []
    send, recv = a._send, b._recv
    a._send = lambda buf: (writes.append(len(buf)), send(buf))[1]
    b._recv = lambda size: (reads.append(size), recv(size))[1]
    for size, written in ((64, [68]), (16 * 1024, [4 + 16 * 1024]), (32 * 1024, [4, 32 * 1024])):
        writes.clear()
        reads.clear()
        a.send_bytes(b'x' * size)  # fits in the socket: returns before anybody reads
        assert b.recv_bytes() == b'x' * size
        assert writes == written, (size, writes)
        assert reads == [4, size], (size, reads)


if __name__ == '__main__':
    if len(sys.argv) != 2:
        sys.exit('usage: python3 python/book_claims.py DEMO_SITE_URL')
    site = sys.argv[1].rstrip('/')
    sys.stdout = io.TextIOWrapper(sys.stdout.buffer, line_buffering=True)
    for page, check in CHECKS:
        check(site)
        print(f'ok  {page}: {check.__name__.replace("_", " ")}')
    print(f'{len(CHECKS)} passed, 0 failed')
