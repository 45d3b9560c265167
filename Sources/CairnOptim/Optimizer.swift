import CairnNN
