"""An error raised in Houdini, as a script on the client meets it: a class it can catch (`hou.OperationFailed`,
`hou.Error`, builtins as themselves), the server's message in one line, the server's traceback kept on it."""

import os
import traceback

import pytest
import rpyc
from conftest import listed_clients

import hrpyc

INVALID_TYPE = "The attempted operation failed.\nInvalid node type name"  # as Houdini words it


def test_houdinis_exceptions_are_caught_by_their_class_and_by_hou_error(remote):
    conn, hou = remote
    with pytest.raises(hou.OperationFailed) as caught:
        hou.node("/obj").createNode("no such type")
    error = caught.value
    assert isinstance(error, hou.Error) and isinstance(error, Exception)
    assert type(error) is hou.OperationFailed and issubclass(hou.OperationFailed, hou.Error)
    assert (type(error).__module__, type(error).__name__) == ("hou", "OperationFailed")
    try:
        hou.node("/obj").createNode("no such type")
    except hou.Error as again:
        assert type(again) is type(error)  # one local class per remote class
    assert hou.PermissionError is not PermissionError and issubclass(hou.PermissionError, hou.Error)
    with pytest.raises(hou.ObjectWasDeleted):
        conn.execute("import hou\nraise hou.ObjectWasDeleted('gone')")


def test_a_script_sees_the_servers_message_and_print_exc_its_traceback(remote):
    _, hou = remote
    try:
        hou.node("/obj").createNode("no such type")
    except hou.OperationFailed as error:
        shown = traceback.format_exc()
        assert str(error) == INVALID_TYPE
        assert "Traceback in the server" in error.remote_traceback and "in createNode" in error.remote_traceback
    assert "WARNING" not in shown and "Remote Traceback" not in shown and "vinegar" not in shown
    assert shown.count("hou.OperationFailed: " + INVALID_TYPE) == 2  # the server's traceback, then ours
    server_side = shown.split("The above exception was the direct cause")[0]
    assert "createNode" in server_side
    assert os.path.dirname(rpyc.__file__) not in server_side  # where the code it called starts, not rpyc's frames
    assert os.path.dirname(hrpyc.__file__) not in server_side


def _raised_here(function, *args):
    try:
        function(*args)
    except OSError as error:
        return error
    raise AssertionError("{}{} raised nothing".format(function.__name__, args))


def test_builtin_exceptions_stay_builtins(remote):
    conn, _ = remote
    with pytest.raises(FileNotFoundError) as caught:
        conn.modules.os.stat("/no/such/file")
    assert type(caught.value) is FileNotFoundError and caught.value.errno == 2
    # As this OS says it here ("[Errno 2] No such file or directory: ...", "[WinError 3] ..."): no " -> None"
    assert str(caught.value) == str(_raised_here(os.stat, "/no/such/file"))
    with pytest.raises(FileNotFoundError):
        hrpyc.fetch_file(conn, "/no/such/file")
    with pytest.raises(type(_raised_here(open, "/", "wb"))):  # IsADirectoryError; Windows: PermissionError
        hrpyc.push_file(conn, "/", b"data")
    with pytest.raises(KeyError) as caught:
        hrpyc.run(conn, "result = {}['k']")
    assert type(caught.value) is KeyError and caught.value.args == ("k",)
    assert conn.modules.builtins.ValueError is ValueError


def test_run_and_submit_raise_the_codes_own_class(remote):
    conn, hou = remote
    raising = "import hou\nraise hou.PermissionError('the asset is locked')"
    with pytest.raises(hou.PermissionError) as caught:
        hrpyc.run(conn, raising)
    assert not isinstance(caught.value, PermissionError) and str(caught.value) == "the asset is locked"
    assert 'File "<hrpyc.run>", line 2' in caught.value.remote_traceback
    with pytest.raises(hou.Error):
        hrpyc.submit(conn, raising).result()


def test_a_timeout_error_of_the_code_is_not_taken_for_a_request_timeout(remote):
    conn, _ = remote
    with pytest.raises(TimeoutError) as caught:
        hrpyc.run(conn, "raise TimeoutError('the render farm did not answer')")
    assert type(caught.value) is TimeoutError and str(caught.value) == "the render farm did not answer"
    with pytest.raises(EOFError) as caught:
        conn.execute("raise EOFError('the file ended early')")
    assert type(caught.value) is EOFError


def test_what_the_server_says_in_an_error_is_shown_escaped(remote):
    conn, _ = remote
    with pytest.raises(ValueError) as caught:
        conn.execute("raise ValueError('\\x1b[2J\\x1b]0;owned\\x07')")
    assert str(caught.value) == "\\x1b[2J\\x1b]0;owned\\x07"
    assert "\x1b" not in caught.value.remote_traceback and "\x1b" not in traceback.format_exc()
    with pytest.raises(Exception) as caught:
        conn.execute("class Odd(Exception):\n    pass\nOdd.__name__ = 'Odd\\x1b[2J'\nraise Odd('\\x1b[2J')")
    assert type(caught.value).__name__ == "Odd\\x1b[2J" and str(caught.value) == "\\x1b[2J"


def test_each_connection_has_its_own_classes_with_the_servers_hierarchy(server_process):
    first, hou = hrpyc.import_remote_module(*server_process.address)
    second, other_hou = hrpyc.import_remote_module(*server_process.address)
    assert hou.OperationFailed is not other_hou.OperationFailed
    assert type(hou.OperationFailed) is type(other_hou.OperationFailed) is type  # local classes, not proxies
    assert [k.__name__ for k in hou.OperationFailed.__mro__] == [
        "OperationFailed",
        "Error",
        "Exception",
        "BaseException",
        "object",
    ]
    first.close()
    second.close()


def test_a_stock_server_gets_the_same_classes(stock_server):
    """SideFX's own server (a stock rpyc classic server) sends no lineage: the client asks it."""
    stock = stock_server()
    conn, hou = hrpyc.import_remote_module(*stock.address)
    with pytest.raises(hou.Error) as caught:
        hou.node("/obj").createNode("no such type")
    assert type(caught.value) is hou.OperationFailed and "Invalid node type name" in str(caught.value)
    with pytest.raises(hou.InvalidInput):  # a class met first as an error, with no lineage sent
        conn.execute("import hou\nraise hou.InvalidInput('bad')")
    assert issubclass(hou.InvalidInput, hou.Error)
    conn.close()


def test_raising_again_and_again_costs_no_more_requests_than_the_calls(server_process):
    conn, hou = hrpyc.import_remote_module(*server_process.address)
    watcher = hrpyc.connect(*server_process.address)

    def requests():
        (client,) = listed_clients(watcher)  # the other client: conn
        return client.requests

    obj = hou.node("/obj")
    with pytest.raises(hou.OperationFailed):
        obj.createNode("no such type")  # the first: its class is made
    before = requests()
    for _ in range(10):
        with pytest.raises(hou.OperationFailed):
            obj.createNode("no such type")
    assert requests() - before == 10
    conn.close()
    watcher.close()


def test_a_gui_houdini_answers_exception_classes_while_it_serves(gui_houdini):
    conn, hou = hrpyc.import_remote_module(*gui_houdini.address)
    with pytest.raises(hou.OperationFailed):
        hou.node("/obj").createNode("no such type")
    conn.close()
