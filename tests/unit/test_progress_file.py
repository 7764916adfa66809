"""The run's progress file: whole lines only, shared by several writers, never a failed build."""

from __future__ import annotations

import threading

from package_builder_dagster.orchestration.progress_file import ProgressWriter, progress_path, read_progress


def test_lines_from_several_writers_are_read_whole_and_in_order_of_writing(tmp_path):
    path = progress_path(tmp_path / "logs", "run-1")
    writers = [ProgressWriter(path) for _ in range(4)]

    def write(writer: ProgressWriter, n: int) -> None:
        for i in range(200):
            writer.write({"package": f"p{n}", "state": "building", "i": i, "pad": "x" * 200})

    threads = [threading.Thread(target=write, args=(w, n)) for n, w in enumerate(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    states, offset = read_progress(path)
    assert len(states) == 800 and offset == path.stat().st_size
    for n in range(4):
        assert [s["i"] for s in states if s["package"] == f"p{n}"] == list(range(200))
    assert read_progress(path, offset) == ([], offset)


def test_a_line_being_written_waits_for_the_next_read(tmp_path):
    path = tmp_path / "progress.jsonl"
    path.write_bytes(b'{"package": "a", "state": "done"}\n{"package": "b", "sta')
    states, offset = read_progress(path)
    assert [s["package"] for s in states] == ["a"]
    with open(path, "ab") as fh:
        fh.write(b'te": "failed"}\n')
    assert read_progress(path, offset)[0] == [{"package": "b", "state": "failed"}]
    assert read_progress(tmp_path / "missing.jsonl", 0) == ([], 0)


def test_an_unwritable_progress_file_is_ignored(tmp_path):
    (tmp_path / "run-1").write_text("a file where the folder should be")
    writer = ProgressWriter(tmp_path / "run-1" / "progress.jsonl")
    writer.write({"package": "a", "state": "building"})  # no exception: progress never fails a build
    writer.close()
