# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Modules that read and report, never change anything.
    INFO_MODULE = r"""
attributes:
  check_mode:
    support: full
    details: It changes nothing.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
"""
    DOCUMENTATION = r"""
options: {}
"""
