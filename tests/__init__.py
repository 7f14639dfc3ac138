# nova's test harness needs eventlet monkey patching before anything else
# imports nova, exactly as nova's own test packages do it.
from nova import monkey_patch ; monkey_patch.patch()  # noqa

from nova import objects  # noqa: E402

objects.register_all()
