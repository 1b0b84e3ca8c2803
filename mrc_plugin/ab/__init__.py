# SPDX-License-Identifier: BSD-3-Clause
"""A/B comparisons of two context providers: jobs, reports, BD-rate tools."""
