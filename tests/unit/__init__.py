# Unit tests load the filters (nova_vmw_sched.filters.all_filters starts the
# process's placement keeper) with no placement to talk to: no keeper here.
# The functional tests give each test a keeper of its own.
from nova_vmw_sched import data  # noqa: E402
from nova_vmw_sched import keeper  # noqa: E402

data.replace(data.Data(keeper=keeper.Off()))
