# nova's test harness needs its concurrency backend chosen (eventlet monkey
# patching, or none under OS_NOVA_DISABLE_EVENTLET_PATCHING=1) before
# anything else imports nova, as nova's own test packages do it.
from nova_vmw_sched import compat ; compat.monkey_patch()  # noqa

from nova import objects  # noqa: E402

objects.register_all()
