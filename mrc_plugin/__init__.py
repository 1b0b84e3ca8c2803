# SPDX-License-Identifier: BSD-3-Clause
"""Multiresolution Contexts (MRC) for Cool-chic, as a context-provider plugin.

``mrc_plugin.plugin`` is registered in the ``coolchic`` entry-point group;
select it with ``context_provider = mrc`` (and ``mrc_depth``) in a Cool-chic
config file or on the command line.
"""
