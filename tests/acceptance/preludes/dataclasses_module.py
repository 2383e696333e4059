# The seed's SerializeableObject as a Module holding a standard dataclass.
from dataclasses import dataclass
from typing import Optional

from brevettiai.utils.module import Module


@dataclass
class MyCustomObject:
    custom_param: Optional[int] = None


class SerializeableObject(Module):
    def __init__(self, param_1: float = -1.0, param_2: str = "Param2 not provided",
                 param_3: Optional[dict] = None, custom: Optional[MyCustomObject] = None):
        self.param_1 = param_1
        self.param_2 = param_2
        self.param_3 = param_3
        self.custom = custom
