"""The shelf tool and the pane tab, read and run as Houdini reads and runs them."""

import os
import sys
import xml.etree.ElementTree as ElementTree

import pytest
from conftest import STANDIN, need

need("Qt", "the panel's tests need Qt.py and a Qt binding (CI installs them)")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def in_houdini(monkeypatch, qtbot):
    """This process plays a graphical Houdini: the stand-in hou, with a UI and a main window."""
    monkeypatch.setenv("HOU_STANDIN_UI", "1")
    monkeypatch.syspath_prepend(STANDIN)
    import hou

    monkeypatch.setitem(sys.modules, "hou", hou)
    yield hou
    window = hou.qt._main_window
    if window is not None:
        for child in window.findChildren(type(window).__mro__[-3]):  # every QWidget child
            child.close()


def run_script(code):
    namespace = {"__name__": "__main__"}
    exec(compile(code, "<houdini script>", "exec"), namespace)
    return namespace


def test_the_shelf_tool_opens_one_floating_panel_over_houdini_and_raises_it_again(in_houdini, qtbot):
    from hrpyc._panel.qt import QtCore

    shelf = ElementTree.parse(os.path.join(ROOT, "toolbar", "hrpyc.shelf")).getroot()
    assert shelf.tag == "shelfDocument"
    member = shelf.find("toolshelf/memberTool").get("name")
    tool = shelf.find("tool[@name='{}']".format(member))
    assert tool.get("label") == "RPC Server"
    script = tool.find("script")
    assert script.get("scriptType") == "python"
    run_script(script.text)
    import hrpyc._panel

    window = hrpyc._panel._floating
    assert window.parent() is in_houdini.qt.mainWindow()
    assert window.windowFlags() & QtCore.Qt.Window and window.isVisible()
    window.hide()
    run_script(script.text)  # a second click
    assert hrpyc._panel._floating is window and window.isVisible()


def test_the_pane_tab_creates_the_panel_widget(in_houdini, qtbot):
    from hrpyc._panel.qt import QtWidgets

    document = ElementTree.parse(os.path.join(ROOT, "python_panels", "hrpyc.pypanel")).getroot()
    assert document.tag == "pythonPanelDocument"
    interface = document.find("interface")
    assert interface.get("name") and interface.find("includeInPaneTabMenu") is not None
    namespace = run_script(interface.find("script").text)
    widget = namespace["onCreateInterface"]()
    qtbot.addWidget(widget)
    assert isinstance(widget, QtWidgets.QWidget)
    assert widget.status.property("state") in ("stopped", "listening")
