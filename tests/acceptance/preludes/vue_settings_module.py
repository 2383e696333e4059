# The seed's SerializeableObject written in the original SDK's style: plain classes with a typed __init__.
from brevettiai.interfaces.vue_schema_utils import VueSettingsModule


class MyCustomObject(VueSettingsModule):
    def __init__(self, custom_param: int = None):
        self.custom_param = custom_param


class SerializeableObject(VueSettingsModule):
    def __init__(self, param_1: float = -1.0, param_2: str = "Param2 not provided", param_3: dict = None,
                 custom: MyCustomObject = None):
        self.param_1 = param_1
        self.param_2 = param_2
        self.param_3 = param_3
        self.custom = custom
