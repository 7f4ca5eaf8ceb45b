"""Bulk jobs in one round trip: run code on Houdini, pull attribute arrays and files as buffers."""

import array

import pytest

import hrpyc


def test_run_a_function_on_the_server_and_get_plain_data(remote):
    conn, _ = remote

    def scene_summary(root, limit=10):
        import hou

        return {"root": root, "children": [n.name() for n in hou.node(root).children()][:limit], "frame": hou.frame()}

    assert hrpyc.run(conn, scene_summary, "/obj", limit=5) == {"root": "/obj", "children": ["sphere1"], "frame": 1.0}


def test_run_a_code_block_returns_its_result_variable(remote):
    conn, _ = remote
    assert hrpyc.run(conn, "import os\nresult = (os.getpid(), b'raw', {1, 2})")[1:] == (b"raw", {1, 2})


def test_run_refuses_what_is_not_plain_data_in_one_line(remote):
    conn, _ = remote
    with pytest.raises(TypeError) as caught:
        hrpyc.run(conn, "import hou\nresult = hou.node('/obj')")
    assert "plain data" in str(caught.value).splitlines()[0]
    with pytest.raises(ValueError):
        hrpyc.run(conn, "result = 1", object())  # arguments must be plain data too


def test_run_is_one_round_trip(remote):
    conn, _ = remote
    hrpyc.run(conn, "result = 0")  # warm up
    before = conn.modules.hou.standin_calls.__len__()
    requests_before = _requests(conn)
    hrpyc.run(conn, "import hou\nresult = [hou.node('/obj').path() for _ in range(100)]")
    assert _requests(conn) - requests_before <= 2  # the run itself (and our own count request)
    assert conn.modules.hou.standin_calls.__len__() - before >= 100


def _requests(conn):
    return hrpyc.run(conn, "import hrpyc\nresult = sum(c.requests for c in hrpyc.running_server().clients())")


def test_fetch_attrib_pulls_a_whole_attribute_in_one_buffer(remote):
    conn, _ = remote
    positions = hrpyc.fetch_attrib(conn, "/obj/sphere1", "P")
    ids = hrpyc.fetch_attrib(conn, "/obj/sphere1", "id")
    try:
        import numpy
    except ImportError:
        assert isinstance(positions, array.array) and len(positions) == 3000
        assert list(positions[3:6]) == [1.0, 2.0, 3.0] and ids[999] == 999
    else:
        assert positions.shape == (1000, 3) and positions.dtype == numpy.float32
        assert positions[1].tolist() == [1.0, 2.0, 3.0] and ids[999, 0] == 999
    with pytest.raises(ValueError) as caught:
        hrpyc.fetch_attrib(conn, "/obj/sphere1", "Cd")
    assert "no point attribute 'Cd'" in str(caught.value).splitlines()[0]


def test_fetch_file_pulls_a_file_as_bytes(remote, tmp_path):
    conn, _ = remote
    payload = bytes(range(256)) * 4096
    (tmp_path / "cache.bgeo").write_bytes(payload)
    assert hrpyc.fetch_file(conn, str(tmp_path / "cache.bgeo")) == payload


def test_large_bytes_travel_both_ways_intact(remote):
    conn, _ = remote
    payload = bytes(range(256)) * (40 * 1024)  # 10 MB
    assert conn.modules.hashlib.md5(payload).hexdigest() == __import__("hashlib").md5(payload).hexdigest()
    conn.execute("import os\nblob = os.urandom(10 * 1024 * 1024)")
    assert len(conn.eval("blob")) == 10 * 1024 * 1024
