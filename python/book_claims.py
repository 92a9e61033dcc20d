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


# Chapter 1 ----------------------------------------------------------------------------

@claim('ch01-process.md')
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


@claim('ch01-process.md')
def a_fork_without_a_flush_prints_buffered_text_twice_and_multiprocessing_flushes(site):
    for use_multiprocessing, copies in [(False, 2), (True, 1)]:
        out = subprocess.run(
            [sys.executable, '-c',
             'import book_claims; '
             f'book_claims.print_partial_line_then_fork({use_multiprocessing})'],
            cwd=HERE, env=python_env(PYTHONUNBUFFERED=None), stdout=subprocess.PIPE,
            text=True, check=True).stdout
        assert out.count('half a line') == copies, (use_multiprocessing, out)


@claim('ch01-process.md')
def children_not_joined_are_joined_when_the_parent_exits(site):
    code = ('import multiprocessing as mp, time\n'
            'def late(): time.sleep(0.3); print("the child finished", flush=True)\n'
            'if __name__ == "__main__":\n'
            '    mp.Process(target=late).start()\n'
            '    print("the parent is done", flush=True)\n')
    out = subprocess.run([sys.executable, '-c', code], stdout=subprocess.PIPE, text=True,
                         timeout=10, check=True).stdout
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


if __name__ == '__main__':
    if len(sys.argv) != 2:
        sys.exit('usage: python3 python/book_claims.py DEMO_SITE_URL')
    site = sys.argv[1].rstrip('/')
    sys.stdout = io.TextIOWrapper(sys.stdout.buffer, line_buffering=True)
    for page, check in CHECKS:
        check(site)
        print(f'ok  {page}: {check.__name__.replace("_", " ")}')
    print(f'{len(CHECKS)} passed, 0 failed')
