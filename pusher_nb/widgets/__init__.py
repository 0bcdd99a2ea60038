"""Live notebook views (ipywidgets): status, charts, presence, event log, chat.

Every view redraws from a task on the kernel's running loop, at a bounded rate, and holds no
secret in any synced trait.
"""

from .chart import LiveChart
from .log import EventLog
from .presence import Chat, PresenceTable
from .pusher import PusherWidget
from .status import StatusBar

__all__ = ["Chat", "EventLog", "LiveChart", "PresenceTable", "PusherWidget", "StatusBar"]
