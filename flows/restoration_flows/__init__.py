"""The Prefect layer of restoration: flows, the ``restoration`` command and its processes."""

from .children import leave_interrupts_to_the_command

leave_interrupts_to_the_command()  # first, in a spawned Dask worker: before the slow imports
